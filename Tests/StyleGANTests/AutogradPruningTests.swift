// gradients(of:wrt:) computes only the gradients that lead to what was asked for, as
// torch.autograd.grad does: R1's gradient with respect to the reals must not run the weight
// gradient of every convolution (a convolution's work per layer, thrown away).
import Testing
@testable import StyleGAN

@Suite("Autograd pruning")
struct AutogradPruningTests {
    /// y = x * w through a recorded op that logs which input gradients it was asked for.
    func loggedProduct(_ x: Tensor, _ w: Tensor, log: Log) -> Tensor {
        let y = GradMode.withoutGrad { x * w }
        return record(y, "loggedProduct", [x, w]) { g, needs in
            log.asked.append(needs)
            return [needs[0] ? g * w : nil, needs[1] ? g * x : nil]
        }
    }

    final class Log { var asked: [[Bool]] = [] }

    @Test func gradientWithRespectToInputSkipsWeights() {
        let x = Tensor(randomNormal: [3], seed: 1, requiresGrad: true)
        let w = Tensor(randomNormal: [3], seed: 2, requiresGrad: true)
        let log = Log()
        let h = loggedProduct(x, w, log: log)
        let y = loggedProduct(h, w, log: log)          // y = x w^2
        let g = gradients(of: y.sum(), wrt: [x], createGraph: true)[0]
        #expect(log.asked == [[true, false], [true, false]], "asked \(log.asked)")
        let want = zip(w.scalars, w.scalars).map { $0 * $1 }
        #expect(zip(g.scalars, want).allSatisfy { abs($0 - $1) < 1e-6 })
        // The gradient is itself differentiable, including with respect to the weights it skipped.
        let gw = gradients(of: g.sum(), wrt: [w])[0]  // d/dw sum(w^2) = 2w
        #expect(zip(gw.scalars, w.scalars).allSatisfy { abs($0 - 2 * $1) < 1e-6 })
    }

    @Test func backwardStillReachesEveryLeaf() {
        let x = Tensor(randomNormal: [3], seed: 1, requiresGrad: true)
        let w = Tensor(randomNormal: [3], seed: 2, requiresGrad: true)
        let log = Log()
        loggedProduct(x, w, log: log).sum().backward()
        #expect(log.asked == [[true, true]])
        #expect(x.grad != nil && w.grad != nil)
    }

    @Test func intermediateWantedStopsThere() {
        let x = Tensor(randomNormal: [3], seed: 1, requiresGrad: true)
        let w = Tensor(randomNormal: [3], seed: 2, requiresGrad: true)
        let log = Log()
        let h = loggedProduct(x, w, log: log)
        let y = loggedProduct(h, h, log: log)          // y = h^2
        let g = gradients(of: y.sum(), wrt: [h])[0]
        #expect(log.asked == [[true, true]], "only y's op runs: asked \(log.asked)")
        #expect(zip(g.scalars, h.scalars).allSatisfy { abs($0 - 2 * $1) < 1e-6 })
    }
}
