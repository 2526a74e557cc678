// Every primitive's derivative against central finite differences, and, for what the
// discriminator is differentiated through twice (conv, bias + leaky ReLU, blur / downsampling,
// minibatch stddev, dense), the create_graph second derivative against finite differences of
// the first derivative. Independent of PyTorch: this checks our rules against our own forwards.
import Testing
@testable import StyleGAN

/// L(inputs) = sum(f(inputs) * gy) for a fixed random gy.
private func projected(_ f: @escaping ([Tensor]) -> Tensor, _ inputs: [Tensor], seed: UInt64) -> ([Tensor]) -> Tensor {
    let shape = GradMode.withoutGrad { f(inputs).shape }
    let gy = Tensor(randomNormal: shape, seed: seed)
    return { (f($0) * gy).sum() }
}

/// Central differences of a scalar function at up to `samples` elements of each input.
private func finiteDifferences(_ loss: ([Tensor]) -> Tensor, _ inputs: [Tensor], eps: Float, samples: Int)
    -> [[(index: Int, value: Double)]] {
    GradMode.withoutGrad {
        inputs.map { t in
            let step = max(1, t.count / samples)
            return stride(from: 0, to: t.count, by: step).map { i in
                let saved = t.data[i]
                t.data[i] = saved + eps
                let up = Double(loss(inputs).item)
                t.data[i] = saved - eps
                let down = Double(loss(inputs).item)
                t.data[i] = saved
                return (i, (up - down) / Double(2 * eps))
            }
        }
    }
}

/// Compares autograd's gradient of L with finite differences, scaled by the gradient's size.
private func checkGradient(_ name: String, _ inputs: [Tensor], eps: Float = 1e-2, tol: Double = 2e-2,
                           samples: Int = 16, seed: UInt64 = 7, _ f: @escaping ([Tensor]) -> Tensor) {
    for t in inputs { t.requiresGrad = true }
    let loss = projected(f, inputs, seed: seed)
    let analytic = gradients(of: loss(inputs), wrt: inputs)
    let numeric = finiteDifferences(loss, inputs, eps: eps, samples: samples)
    compareDifferences(name, analytic, numeric, tol: tol)
}

private func compareDifferences(_ name: String, _ analytic: [Tensor], _ numeric: [[(index: Int, value: Double)]], tol: Double) {
    for (k, (a, fd)) in zip(analytic, numeric).enumerated() {
        let scale = max(1e-3, Double(a.scalars.map { abs($0) }.max() ?? 0))
        var worst = 0.0
        for (i, v) in fd {
            let err = abs(Double(a.data[i]) - v) / (scale + abs(v))
            worst = max(worst, err)
        }
        print("  \(name) input \(k): worst relative FD error \(worst)")
        #expect(worst < tol, "\(name): input \(k) gradient differs from finite differences (\(worst))")
    }
}

/// Second order: R(inputs) = sum(dL/dx ^ 2), first-order gradients only, differentiated
/// numerically; against autograd's create_graph derivative of R.
private func checkSecondOrder(_ name: String, _ inputs: [Tensor], eps: Float = 1e-2, tol: Double = 3e-2,
                              samples: Int = 12, _ f: @escaping ([Tensor]) -> Tensor) {
    for t in inputs { t.requiresGrad = true }
    let loss = projected(f, inputs, seed: 11)
    let x = inputs[0]
    let r: ([Tensor]) -> Tensor = { ins in
        GradMode.with(true) {
            let g = gradients(of: loss(ins), wrt: [x])[0]
            return g.square().sum()
        }
    }
    let g = gradients(of: [loss(inputs)], wrt: [x], createGraph: true)[0]
    let analytic = gradients(of: g.square().sum(), wrt: inputs)
    let numeric = finiteDifferences(r, inputs, eps: eps, samples: samples)
    compareDifferences(name + " (2nd order)", analytic, numeric, tol: tol)
}

/// Values at least `margin` away from zero, so no finite difference crosses a ReLU kink.
private func awayFromZero(_ shape: [Int], seed: UInt64, margin: Float = 0.1) -> Tensor {
    let t = Tensor(randomNormal: shape, seed: seed)
    for i in 0..<t.count { t.data[i] = t.data[i] >= 0 ? t.data[i] + margin : t.data[i] - margin }
    return t
}

@Suite("Finite differences")
struct FiniteDifferenceTests {
    @Test func elementwiseBinary() {
        let a = randomTensor([2, 3, 4], seed: 1), b = randomTensor([1, 3, 1], seed: 2)
        let bp = randomTensor([3, 1], seed: 3, positive: true)
        checkGradient("add", [a, b]) { $0[0] + $0[1] }
        checkGradient("sub", [a, b]) { $0[0] - $0[1] }
        checkGradient("mul", [a, b]) { $0[0] * $0[1] }
        checkGradient("div", [a, bp], eps: 1e-3) { $0[0] / $0[1] }
        checkGradient("affine", [a]) { $0[0].affine(scale: -1.5, shift: 0.25) }
    }

    @Test func unary() {
        let x = randomTensor([3, 5], seed: 4), xp = randomTensor([3, 5], seed: 5, positive: true)
        checkGradient("exp", [x]) { $0[0].exp() }
        checkGradient("log", [xp], eps: 1e-3) { $0[0].log() }
        checkGradient("sqrt", [xp], eps: 1e-3) { $0[0].sqrt() }
        checkGradient("rsqrt", [xp], eps: 1e-3) { $0[0].rsqrt() }
        checkGradient("square", [x]) { $0[0].square() }
        checkGradient("softplus", [x]) { $0[0].softplus() }
        checkGradient("sigmoid", [x]) { $0[0].sigmoid() }
        checkGradient("relu", [awayFromZero([3, 5], seed: 6)]) { $0[0].relu() }
    }

    /// The window ops of the Inception network, which a perceptual distance differentiates through.
    @Test func windowOps() {
        let x = randomTensor([2, 3, 9, 7], seed: 21)
        checkGradient("maxPooled", [x]) { $0[0].maxPooled(3, stride: 2) }
        checkGradient("maxPooled pad", [x]) { $0[0].maxPooled(3, stride: 1, padding: 1) }
        checkGradient("avgPooled", [x]) { $0[0].avgPooled(3, stride: 1, padding: 1) }
        checkGradient("resize up", [x]) { $0[0].resizedBilinear(height: 13, width: 11, halfPixelCentres: false) }
        checkGradient("resize down", [x]) { $0[0].resizedBilinear(height: 5, width: 4) }
        checkSecondOrder("avgPooled", [x]) { $0[0].avgPooled(3, stride: 1, padding: 1).square() }
        checkSecondOrder("resize", [x]) { $0[0].resizedBilinear(height: 13, width: 11).square() }
    }

    /// The projector's perceptual distance through the whole Inception stack (random weights of
    /// its shapes): zero against itself, and its gradient matches finite differences.
    @Test func perceptualDistance() {
        let net = InceptionV3(randomSeed: 5)
        let target = GradMode.withoutGrad { net.perceptualFeatures(Tensor(randomUniform: [1, 3, 24, 24], seed: 6) * 2 - 1) }
        let x = GradMode.withoutGrad { (Tensor(randomUniform: [1, 3, 24, 24], seed: 7) * 2 - 1).copy() }
        let same = GradMode.withoutGrad { InceptionV3.perceptualDistance(target, target).item }
        #expect(same == 0)
        checkGradient("perceptual", [x], eps: 3e-2, tol: 5e-2, samples: 6) { InceptionV3.perceptualDistance(net.perceptualFeatures($0[0]), target) }
    }

    @Test func shapes() {
        let x = randomTensor([2, 3, 4, 2], seed: 8), y = randomTensor([2, 1, 4, 2], seed: 9)
        checkGradient("sumTo", [x]) { $0[0].sumTo([1, 3, 1, 2]) }
        checkGradient("expand", [y]) { $0[0].expand([2, 5, 4, 2]) }
        checkGradient("reshape", [x]) { $0[0].reshaped([6, 8]) }
        checkGradient("narrow", [x]) { $0[0].narrow(axis: 1, start: 1, length: 2) }
        checkGradient("pad", [x]) { $0[0].padded(axis: 2, before: 1, after: 2) }
        checkGradient("concat", [x, y]) { concat([$0[0], $0[1]], axis: 1) }
        checkGradient("mean", [x]) { $0[0].mean(axes: [0, 2]) }
    }

    @Test func matmulAllTransposes() {
        for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
            let a = randomTensor(ta ? [4, 3] : [3, 4], seed: 10), b = randomTensor(tb ? [5, 4] : [4, 5], seed: 11)
            checkGradient("matmul ta=\(ta) tb=\(tb)", [a, b]) { matmul($0[0], $0[1], transposeA: ta, transposeB: tb) }
            checkSecondOrder("matmul ta=\(ta) tb=\(tb)", [a, b]) { matmul($0[0], $0[1], transposeA: ta, transposeB: tb).square() }
            // alpha: the dense layers' equalised-lr scale.
            checkGradient("matmul ta=\(ta) tb=\(tb) alpha 0.6", [a, b]) {
                matmul($0[0], $0[1], transposeA: ta, transposeB: tb, alpha: 0.6)
            }
            checkSecondOrder("matmul ta=\(ta) tb=\(tb) alpha 0.6", [a, b]) {
                matmul($0[0], $0[1], transposeA: ta, transposeB: tb, alpha: 0.6).square()
            }
        }
    }

    @Test func convolutionFamily() {
        let x = randomTensor([2, 3, 6, 5], seed: 12), w = randomTensor([4, 3, 3, 3], seed: 13)
        checkGradient("conv2d s1 p1", [x, w]) { conv2d($0[0], $0[1], padding: 1) }
        checkGradient("conv2d s2 p1", [x, w]) { conv2d($0[0], $0[1], stride: 2, padding: 1) }
        let xt = randomTensor([1, 4, 3, 3], seed: 14), wt = randomTensor([4, 2, 4, 4], seed: 15)
        checkGradient("convTranspose2d", [xt, wt]) { convTranspose2d($0[0], $0[1], stride: 2, padding: 1) }
        // conv2d's derivatives are the input- and weight-gradient primitives; squaring makes R1 depend on w and x.
        checkSecondOrder("conv2d", [x, w]) { conv2d($0[0], $0[1], stride: 2, padding: 1).square() }
        checkSecondOrder("convTranspose2d", [xt, wt]) { convTranspose2d($0[0], $0[1], stride: 2, padding: 1).square() }
        // The weight used as gain * w (equalised lr), carried through every derivative.
        checkGradient("conv2d s1 p1 gain 0.6", [x, w]) { conv2d($0[0], $0[1], padding: 1, gain: 0.6) }
        checkGradient("convTranspose2d gain 0.6", [xt, wt]) { convTranspose2d($0[0], $0[1], stride: 2, padding: 1, gain: 0.6) }
        checkSecondOrder("conv2d gain 0.6", [x, w]) { conv2d($0[0], $0[1], stride: 2, padding: 1, gain: 0.6).square() }
        checkSecondOrder("convTranspose2d gain 0.6", [xt, wt]) {
            convTranspose2d($0[0], $0[1], stride: 2, padding: 1, gain: 0.6).square()
        }
    }

    @Test func resampling() {
        let x = randomTensor([2, 2, 6, 4], seed: 16)
        checkGradient("blur", [x]) { $0[0].blurred() }
        checkGradient("blur [1,3,3,1]", [x]) { $0[0].blurred(.separable([1, 3, 3, 1])) }
        checkGradient("upsample 2x", [x]) { $0[0].upsampled2x() }
        checkGradient("downsample 2x", [x]) { $0[0].downsampled2x() }
        checkGradient("FIR up 2", [x]) {
            upfirdn2d($0[0], filter: .separable([1, 3, 3, 1], gain: 4), up: 2, padding: Padding2D(x0: 2, x1: 1, y0: 2, y1: 1))
        }
        checkSecondOrder("blur + down", [x]) { $0[0].blurred().downsampled2x().square() }
    }

    @Test func biasLeakyReLU() {
        let x = awayFromZero([2, 3, 4, 4], seed: 17, margin: 0.2), b = Tensor([0.01, -0.02, 0.015], shape: [3])
        checkGradient("biasLeakyReLU", [x, b], eps: 1e-3) { $0[0].biasLeakyReLU($0[1]) }
        let d = awayFromZero([3, 6], seed: 18, margin: 0.2)
        checkGradient("leakyReLU dense", [d], eps: 1e-3) { $0[0].biasLeakyReLU(nil) }
        // R1 through lrelu(x + b) squared: the mask's derivative is zero, the rest flows through x and b.
        checkSecondOrder("biasLeakyReLU", [x, b], eps: 1e-3) { $0[0].biasLeakyReLU($0[1]).square() }
        // With StyleGAN's noise fused in: gradients for the input, the noise (per sample and one map
        // for the batch), the per-channel strength and the bias; then the second order.
        let strength = Tensor([0.02, -0.01, 0.03], shape: [3])
        for noise in [randomTensor([2, 1, 4, 4], seed: 19), randomTensor([1, 1, 4, 4], seed: 20)] {
            checkGradient("noiseBiasLeakyReLU noise \(noise.shape)", [x, noise, strength, b], eps: 1e-3) {
                $0[0].noiseBiasLeakyReLU(noise: $0[1], strength: $0[2], bias: $0[3])
            }
            checkSecondOrder("noiseBiasLeakyReLU noise \(noise.shape)", [x, noise, strength, b], eps: 1e-3) {
                $0[0].noiseBiasLeakyReLU(noise: $0[1], strength: $0[2], bias: $0[3]).square()
            }
        }
    }

    @Test func normalisations() {
        let x = randomTensor([2, 3, 4, 4], seed: 19)
        let ys = randomTensor([2, 3], seed: 20), yb = randomTensor([2, 3], seed: 21)
        checkGradient("instanceNorm", [x], eps: 1e-2) { $0[0].instanceNorm() }
        checkGradient("adaIN", [x, ys, yb], eps: 1e-2) { $0[0].adaIN(scale: $0[1], bias: $0[2]) }
        checkGradient("pixelNorm 2d", [randomTensor([3, 8], seed: 22)]) { $0[0].pixelNorm() }
        checkGradient("pixelNorm 4d", [randomTensor([2, 4, 3, 3], seed: 23)]) { $0[0].pixelNorm() }
    }

    @Test func minibatchStdDevBothOrders() {
        let x = randomTensor([8, 2, 3, 3], seed: 24)
        checkGradient("minibatchStdDev", [x], eps: 1e-2) { minibatchStdDev($0[0], groupSize: 4) }
        checkSecondOrder("minibatchStdDev", [x], eps: 1e-2) { minibatchStdDev($0[0], groupSize: 4) }
    }

    @Test func discriminatorChainSecondOrder() {
        let x = randomTensor([4, 2, 8, 8], seed: 25)
        let w1 = randomTensor([3, 2, 3, 3], seed: 26), w2 = randomTensor([4, 3, 3, 3], seed: 27)
        // The bias moves every pre-activation of a channel at once, so its finite difference
        // crosses leaky-ReLU kinks; it stays a constant here (its second derivative is checked in
        // biasLeakyReLU() and against PyTorch in the d_chain fixture).
        let b = Tensor([0.5, -0.3, 0.2], shape: [3])
        let wl = randomTensor([1, 5 * 4 * 4], seed: 28)
        checkSecondOrder("D chain", [x, w1, w2, wl], eps: 2e-3, tol: 5e-2) { v in
            // The weights scaled as the networks scale them: by the products' gain.
            var h = conv2d(v[0], v[1], padding: 1, gain: 0.2).biasLeakyReLU(b).blurred()
            h = conv2d(h, v[2], padding: 1, gain: 0.2).downsampled2x().biasLeakyReLU(nil)
            h = minibatchStdDev(h, groupSize: 4)
            return matmul(h.reshaped([4, -1]), v[3], transposeB: true, alpha: 0.1).softplus()
        }
    }
}
