// Tests of upfirdn2d: the fast kernel against the literal reference over the resampling setups
// StyleGAN uses and some odd ones, known answers (nearest 2x up, box 2x down, filtering a
// delta), and the adjoint identity the autograd's backward is built on.
import CKernels
import CKernelsReference
import Testing

/// One upfirdn2d call's parameters.
private struct FIR {
    var P: Int, H: Int, W: Int
    var f: [Float], FH: Int, FW: Int
    var up = 1, down = 1
    var px0 = 0, px1 = 0, py0 = 0, py1 = 0
    var OH: Int { (H * up + py0 + py1 - FH) / down + 1 }
    var OW: Int { (W * up + px0 + px1 - FW) / down + 1 }
}

private func run(_ c: FIR, _ x: [Float], ref: Bool = false) -> [Float] {
    precondition(x.count == c.P * c.H * c.W)
    var y = [Float](repeating: .nan, count: c.P * c.OH * c.OW)
    let fn = ref ? upfirdn2d_ref : upfirdn2d
    fn(&y, x, c.f, Int32(c.P), Int32(c.H), Int32(c.W), Int32(c.FH), Int32(c.FW), Int32(c.up),
       Int32(c.down), Int32(c.px0), Int32(c.px1), Int32(c.py0), Int32(c.py1))
    return y
}

/// The adjoint: flipped filter, up and down swapped, padding so that the output is H x W again.
private func adjoint(_ c: FIR) -> FIR {
    var a = c
    a.P = c.P; a.H = c.OH; a.W = c.OW
    a.f = Array(c.f.reversed()) // reversing a row-major FH x FW array flips both axes
    a.up = c.down; a.down = c.up
    a.px0 = c.FW - c.px0 - 1
    a.px1 = c.W * c.up - c.OW * c.down + c.px0 - c.up + 1
    a.py0 = c.FH - c.py0 - 1
    a.py1 = c.H * c.up - c.OH * c.down + c.py0 - c.up + 1
    return a
}

private func outer(_ k: [Float], scale: Float = 1) -> [Float] {
    k.flatMap { a in k.map { b in a * b * scale } }
}

private let blur121 = outer([1, 2, 1], scale: 1.0 / 16)
private let fir1331 = outer([1, 3, 3, 1], scale: 1.0 / 64)

/// The setups of the networks (with their paddings) plus irregular ones.
private func cases() -> [FIR] {
    var cs: [FIR] = []
    for (P, H, W) in [(1, 1, 1), (1, 4, 4), (3, 7, 5), (2, 8, 8), (5, 9, 13), (16, 16, 16)] {
        cs.append(FIR(P: P, H: H, W: W, f: blur121, FH: 3, FW: 3, px0: 1, px1: 1, py0: 1, py1: 1))
        cs.append(FIR(P: P, H: H, W: W, f: [1, 1, 1, 1], FH: 2, FW: 2, up: 2, px0: 1, py0: 1))
        cs.append(FIR(P: P, H: H, W: W, f: fir1331.map { $0 * 4 }, FH: 4, FW: 4, up: 2,
                      px0: 2, px1: 1, py0: 2, py1: 1))
        if H >= 2 && W >= 2 {
            cs.append(FIR(P: P, H: H, W: W, f: [0.25, 0.25, 0.25, 0.25], FH: 2, FW: 2, down: 2))
        }
        if H >= 3 && W >= 3 {
            cs.append(FIR(P: P, H: H, W: W, f: fir1331, FH: 4, FW: 4, down: 2,
                          px0: 1, px1: 1, py0: 1, py1: 1))
        }
    }
    // The direct paths of the three network shapes, with arbitrary filter values and odd sizes.
    for (k, (P, H, W)) in [(1, 1, 1), (2, 1, 6), (3, 7, 5), (4, 16, 16), (64, 40, 40)].enumerated() {
        cs.append(FIR(P: P, H: H, W: W, f: randomArray(count: 9, seed: 40 + UInt64(k)), FH: 3, FW: 3, px0: 1, px1: 1, py0: 1, py1: 1))
        cs.append(FIR(P: P, H: H, W: W, f: randomArray(count: 4, seed: 50 + UInt64(k)), FH: 2, FW: 2, up: 2, px0: 1, py0: 1))
        if H >= 2 && W >= 2 {
            cs.append(FIR(P: P, H: H, W: W, f: randomArray(count: 4, seed: 60 + UInt64(k)), FH: 2, FW: 2, down: 2))
        }
    }
    // Random filters, asymmetric and negative paddings, up and down together, non-square filters.
    cs.append(FIR(P: 2, H: 9, W: 7, f: randomArray(count: 15, seed: 1), FH: 3, FW: 5, up: 3,
                  down: 2, px0: 2, px1: -1, py0: -2, py1: 3))
    cs.append(FIR(P: 1, H: 6, W: 11, f: randomArray(count: 8, seed: 2), FH: 4, FW: 2, up: 1,
                  down: 3, px0: 0, px1: 2, py0: 3, py1: 0))
    cs.append(FIR(P: 3, H: 5, W: 5, f: randomArray(count: 25, seed: 3), FH: 5, FW: 5, up: 2,
                  down: 2, px0: -1, px1: 4, py0: 4, py1: -1))
    cs.append(FIR(P: 4, H: 10, W: 3, f: randomArray(count: 6, seed: 4), FH: 2, FW: 3, up: 4,
                  down: 1, px0: 1, px1: 1, py0: 0, py1: 0))
    return cs
}

@Test func upfirdn2dMatchesReference() {
    var worst = 0.0
    for (k, c) in cases().enumerated() {
        let x = randomArray(count: c.P * c.H * c.W, seed: UInt64(100 + k))
        let d = maxAbsDifference(run(c, x), run(c, x, ref: true))
        #expect(d <= 1e-5, "case \(k): \(c.H)x\(c.W) f \(c.FH)x\(c.FW) up \(c.up) down \(c.down)")
        worst = max(worst, d)
    }
    print("upfirdn2d fast vs ref: max |diff| = \(worst) over \(cases().count) cases (tol 1e-5)")
}

/// Big enough for the OpenMP path: planes split across threads.
@Test func upfirdn2dParallelMatchesReference() {
    let c = FIR(P: 64, H: 32, W: 32, f: fir1331.map { $0 * 4 }, FH: 4, FW: 4, up: 2,
                px0: 2, px1: 1, py0: 2, py1: 1)
    let x = randomArray(count: c.P * c.H * c.W, seed: 7)
    let d = maxAbsDifference(run(c, x), run(c, x, ref: true))
    print("upfirdn2d parallel (64 planes 32x32 up 2): max |diff| = \(d) (tol 1e-5)")
    #expect(d <= 1e-5)
}

@Test func nearestUpsampleKnownAnswer() {
    // 2x2 ones with up 2 and one leading pad row/column is nearest-neighbour 2x.
    let c = FIR(P: 1, H: 2, W: 3, f: [1, 1, 1, 1], FH: 2, FW: 2, up: 2, px0: 1, py0: 1)
    let y = run(c, [1, 2, 3, 4, 5, 6])
    #expect(c.OH == 4 && c.OW == 6)
    #expect(y == [1, 1, 2, 2, 3, 3,
                  1, 1, 2, 2, 3, 3,
                  4, 4, 5, 5, 6, 6,
                  4, 4, 5, 5, 6, 6])
}

@Test func boxDownsampleKnownAnswer() {
    let c = FIR(P: 2, H: 2, W: 4, f: [0.25, 0.25, 0.25, 0.25], FH: 2, FW: 2, down: 2)
    let x: [Float] = [1, 2, 3, 4,
                      5, 6, 7, 8,
                      0, 0, 4, 4,
                      8, 8, 0, 4]
    #expect(run(c, x) == [3.5, 5.5, 4, 3])
}

@Test func blurOfDeltaGivesFilter() {
    // Padding 1 keeps the size; a centred delta returns the filter flipped (correlation), so an
    // asymmetric filter pins the orientation down and the [1,2,1] blur comes back as itself.
    var x = [Float](repeating: 0, count: 25)
    x[12] = 1
    let asym: [Float] = [1, 2, 3, 4, 5, 6, 7, 8, 9]
    for f in [blur121, asym] {
        let y = run(FIR(P: 1, H: 5, W: 5, f: f, FH: 3, FW: 3, px0: 1, px1: 1, py0: 1, py1: 1), x)
        var want = [Float](repeating: 0, count: 25)
        for i in 0..<3 { for j in 0..<3 { want[(1 + i) * 5 + 1 + j] = f[(2 - i) * 3 + 2 - j] } }
        #expect(y == want)
    }
}

@Test func adjointIdentity() {
    // <upfirdn(x), y> == <x, upfirdn_adjoint(y)>: the backward of upfirdn2d is upfirdn2d.
    let setups: [FIR] = [
        FIR(P: 3, H: 8, W: 8, f: fir1331.map { $0 * 4 }, FH: 4, FW: 4, up: 2,
            px0: 2, px1: 1, py0: 2, py1: 1),
        FIR(P: 2, H: 7, W: 5, f: randomArray(count: 16, seed: 11), FH: 4, FW: 4, up: 2,
            px0: 1, px1: 2, py0: 2, py1: 2),
        FIR(P: 2, H: 5, W: 6, f: [1, 1, 1, 1], FH: 2, FW: 2, up: 2, px0: 1, py0: 1),
        FIR(P: 3, H: 8, W: 8, f: fir1331, FH: 4, FW: 4, down: 2, px0: 1, px1: 1, py0: 1, py1: 1),
        FIR(P: 2, H: 9, W: 7, f: randomArray(count: 16, seed: 12), FH: 4, FW: 4, down: 2,
            px0: 1, px1: 1, py0: 2, py1: 0),
        FIR(P: 1, H: 6, W: 10, f: [0.25, 0.25, 0.25, 0.25], FH: 2, FW: 2, down: 2),
        FIR(P: 2, H: 6, W: 6, f: blur121, FH: 3, FW: 3, px0: 1, px1: 1, py0: 1, py1: 1),
    ]
    var worst = 0.0
    for (k, c) in setups.enumerated() {
        let a = adjoint(c)
        #expect(a.OH == c.H && a.OW == c.W, "adjoint shape, setup \(k)")
        let x = randomArray(count: c.P * c.H * c.W, seed: UInt64(200 + k))
        let y = randomArray(count: c.P * c.OH * c.OW, seed: UInt64(300 + k))
        let lhs = dot(run(c, x), y), rhs = dot(x, run(a, y))
        let rel = abs(lhs - rhs) / max(abs(lhs), 1)
        #expect(rel <= 1e-5, "setup \(k): \(lhs) vs \(rhs)")
        worst = max(worst, rel)
    }
    print("upfirdn2d adjoint identity: max relative gap = \(worst) (tol 1e-5)")
}
