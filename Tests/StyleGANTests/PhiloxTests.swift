// Philox 4x32-10 against the Random123 known-answer vectors, and the determinism promise:
// element i of a draw is the same whether drawn alone, in a slice, or on any thread count.
import CKernels
import Testing
@testable import StyleGAN

@Suite("Philox")
struct PhiloxTests {
    @Test("Random123 known-answer vectors", arguments: [
        ([0, 0, 0, 0], [0, 0], [0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8]),
        ([0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff], [0xffffffff, 0xffffffff],
         [0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd]),
        ([0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344], [0xa4093822, 0x299f31d0],
         [0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1]),
    ] as [([UInt32], [UInt32], [UInt32])])
    func knownAnswers(ctr: [UInt32], key: [UInt32], expected: [UInt32]) {
        var out = [UInt32](repeating: 0, count: 4)
        philox4x32_10(&out, ctr, key)
        #expect(out == expected)
    }

    @Test func slicesAndThreadCountsAgree() {
        let n = 200_003
        ck_set_num_threads(1)
        let one = Tensor(randomNormal: [n], seed: 42, stream: 3, step: 9)
        ck_set_num_threads(2)
        let two = Tensor(randomNormal: [n], seed: 42, stream: 3, step: 9)
        ck_set_num_threads(0)
        #expect(one.scalars == two.scalars)
        var slice = [Float](repeating: 0, count: 1000)
        philox_normal(&slice, 1000, 42, 3, 9, 123_457)
        #expect(slice == Array(one.scalars[123_457..<124_457]))
        let other = Tensor(randomNormal: [1000], seed: 42, stream: 4, step: 9)
        #expect(other.scalars != Array(one.scalars[0..<1000]))
    }

    @Test func normalMoments() {
        let t = Tensor(randomNormal: [400_000], seed: 1)
        let mean = t.scalars.reduce(0.0) { $0 + Double($1) } / Double(t.count)
        let variance = t.scalars.reduce(0.0) { $0 + Double($1) * Double($1) } / Double(t.count) - mean * mean
        print("normal: mean \(mean), variance \(variance)")
        #expect(abs(mean) < 0.01 && abs(variance - 1) < 0.01)
        let u = Tensor(randomUniform: [100_000], seed: 2)
        #expect(u.scalars.allSatisfy { $0 >= 0 && $0 < 1 })
    }

    /// The snapshot grid and `stylegan metrics` draw their latents through Generator.latents:
    /// row i must be seed i's latent, so rows differ.
    @Test func seedLatentsBatchRowsAreTheSeedsLatents() {
        let seeds = [0, 1, 7, 123]
        let z = Generator.latents(seeds: seeds, zDim: 16)
        for (i, s) in seeds.enumerated() {
            let row = Array(z.scalars[(i * 16)..<((i + 1) * 16)])
            #expect(row == Generator.latent(seed: s, zDim: 16).scalars)
        }
        #expect(Array(z.scalars[0..<16]) != Array(z.scalars[16..<32]))
    }
}
