// Tests of the fused Adam step: the fast kernel against the formula in double over several steps
// (so the bias corrections change), odd sizes and the parallel path, plus the known first step.
import CKernels
import CKernelsReference
import Testing

@Test func adamMatchesReference() {
    var worstP = 0.0, worstMV = 0.0
    for n in [1, 7, 1000, 70_001] { // the last one takes the parallel path
        var p = randomArray(count: n, seed: UInt64(n)), pr = p
        var m = [Float](repeating: 0, count: n), v = m, mr = m, vr = m
        for step in 1...5 {
            let g = randomArray(count: n, seed: UInt64(n * 10 + step), lo: -0.1, hi: 0.1)
            adam_update(&p, &m, &v, g, n, 2e-3, 0.0, 0.99, 1e-8, step)
            adam_update_ref(&pr, &mr, &vr, g, n, 2e-3, 0.0, 0.99, 1e-8, step)
            adam_update(&p, &m, &v, g, n, 1e-3, 0.9, 0.999, 1e-8, step)
            adam_update_ref(&pr, &mr, &vr, g, n, 1e-3, 0.9, 0.999, 1e-8, step)
        }
        worstP = max(worstP, maxAbsDifference(p, pr))
        worstMV = max(worstMV, maxRelDifference(m, mr), maxRelDifference(v, vr))
    }
    // |p| <= 1 and ten steps of ~1e-3: a few float ulps of p (1e-6 is 0.1% of one step).
    print("adam_update fast vs ref after 10 steps: p max |diff| = \(worstP) (tol 1e-6), m and v max rel diff = \(worstMV) (tol 1e-5)")
    #expect(worstP <= 1e-6)
    #expect(worstMV <= 1e-5)
}

@Test func adamFirstStepIsSignedLearningRate() {
    // With m = v = 0, step 1 moves every parameter by lr * g / (|g| + eps) = lr * sign(g).
    let g: [Float] = [0.5, -2, 1e-2, -3e-2]
    var p: [Float] = [1, 1, 1, 1], m: [Float] = [0, 0, 0, 0], v = m
    adam_update(&p, &m, &v, g, 4, 0.01, 0.9, 0.999, 1e-8, 1)
    let want: [Float] = [0.99, 1.01, 0.99, 1.01]
    let d = maxAbsDifference(p, want)
    print("adam first step vs lr * sign(g): max |diff| = \(d) (tol 1e-6)")
    #expect(d <= 1e-6)
}

/// With beta1 = 0 the first moment is the gradient itself: the step without m (NULL) is bitwise
/// the step with it, serial and parallel.
@Test func adamWithoutFirstMomentIsTheSameStep() {
    for n in [7, 70_001] {
        var p = randomArray(count: n, seed: 3), p2 = p
        var m = [Float](repeating: 0, count: n), v = m, v2 = m
        for step in 1...4 {
            let g = randomArray(count: n, seed: UInt64(40 + step), lo: -0.1, hi: 0.1)
            adam_update(&p, &m, &v, g, n, 2e-3, 0, 0.99, 1e-8, step)
            adam_update(&p2, nil, &v2, g, n, 2e-3, 0, 0.99, 1e-8, step)
        }
        #expect(p == p2 && v == v2)
    }
}
