// Adam makes a parameter's moments at its first gradient: a layer the network has not grown into
// costs no memory, and nothing else may change. Checkpoints still carry every moment (zeros for
// those not made), a reload keeps all-zero moments unmade, and the updates are bitwise those of
// moments that started as zeros. With beta1 = 0 (StyleGAN's) the first moment is never kept.
import Testing
@testable import StyleGAN
@testable import Training

@Suite("Adam state")
struct AdamStateTests {
    static func parameters() -> NamedParameters {
        [("a", Tensor(randomNormal: [4, 3], seed: 1)), ("b", Tensor(randomNormal: [5], seed: 2))]
    }

    static func values(_ t: Tensor) -> [Float] { Array(UnsafeBufferPointer(start: t.data, count: t.count)) }

    @Test func momentsAreMadeAtTheFirstGradient() {
        let params = Self.parameters()
        let adam = Adam(params, beta1: 0.5)
        #expect(adam.m.allSatisfy { $0 == nil } && adam.v.allSatisfy { $0 == nil })
        params[0].1.grad = Tensor(randomNormal: [4, 3], seed: 3)
        adam.update()
        #expect(adam.m[0] != nil && adam.v[0] != nil)
        #expect(adam.m[1] == nil && adam.v[1] == nil)
        // The checkpoint still has both moments of both parameters, zeros for the unmade ones.
        let state = adam.stateTensors(prefix: "s")
        #expect(state.map(\.0) == ["s.m.a", "s.v.a", "s.m.b", "s.v.b"])
        #expect(Self.values(state[2].1).allSatisfy { $0 == 0 } && state[2].1.shape == [5])
        #expect(Self.values(state[1].1).contains { $0 != 0 })
        adam.reset()
        #expect(adam.m.allSatisfy { $0 == nil } && adam.step == 0)
    }

    @Test func firstMomentIsNotKeptWithBeta1Zero() {
        let params = Self.parameters()
        let adam = Adam(params)
        #expect(adam.beta1 == 0)
        for (_, p) in params { p.grad = Tensor(randomNormal: p.shape, seed: 5) }
        adam.update()
        #expect(adam.m.allSatisfy { $0 == nil } && adam.v.allSatisfy { $0 != nil })
        let state = adam.stateTensors(prefix: "s")
        #expect(Self.values(state[0].1).allSatisfy { $0 == 0 } && Self.values(state[1].1).contains { $0 != 0 })
    }

    /// A run whose moments are reloaded from a checkpoint continues exactly as the original, and
    /// the reload leaves the untouched parameter's moments unmade; with and without a first moment.
    @Test(arguments: [Float(0), 0.5])
    func reloadContinuesExactly(beta1: Float) throws {
        let (p1, p2) = (Self.parameters(), Self.parameters())
        let (a1, a2) = (Adam(p1, beta1: beta1), Adam(p2, beta1: beta1))
        for s in 0..<3 {
            for (_, p) in p1.prefix(1) + p2.prefix(1) { p.grad = Tensor(randomNormal: [4, 3], seed: UInt64(10 + s)) }
            a1.update()
            a2.update()
        }
        let saved = Dictionary(uniqueKeysWithValues: a1.stateTensors(prefix: "s").map { ($0.0, $0.1.copy()) })
        let resumed = Adam(p1, beta1: beta1)
        try resumed.load(state: saved, prefix: "s", step: a1.step)
        #expect(resumed.v[1] == nil && resumed.v[0] != nil && (resumed.m[0] != nil) == (beta1 != 0))
        for s in 3..<6 {
            for (_, p) in p1 + p2 { p.grad = Tensor(randomNormal: p.shape, seed: UInt64(10 + s)) }
            resumed.update()
            a2.update()
        }
        for ((_, x), (_, y)) in zip(p1, p2) { #expect(Self.values(x) == Self.values(y)) }
    }
}
