// Data-parallel training without MPI: shards of the global batch draw the whole batch's random
// rows and form its minibatch-stddev groups, the gradient flatten / allreduce / scatter path of the
// single-process group changes nothing, a one-rank step is the single-process step bit for bit,
// and a build without MPI refuses to run as one of several ranks.
import Foundation
import Testing
import TestSupport
@testable import StyleGAN
@testable import Training

private func bits(_ t: Tensor) -> [UInt32] { t.scalars.map(\.bitPattern) }

@Suite("Data parallel")
struct DataParallelTests {
    @Test func rowsOfADrawAreThoseOfTheWholeDraw() {
        let shape = [6, 3, 5]  // odd row length: rows start inside Philox blocks and Box-Muller pairs
        let whole = Tensor(randomNormal: shape, seed: 7, stream: 3, step: 11)
        #expect(bits(Tensor(randomNormal: shape, rows: Array(0..<6), seed: 7, stream: 3, step: 11)) == bits(whole))
        let some = Tensor(randomNormal: shape, rows: [5, 1, 2], seed: 7, stream: 3, step: 11)
        #expect(some.shape == [3, 3, 5])
        for (k, r) in [5, 1, 2].enumerated() {
            #expect(Array(bits(some)[(k * 15)..<(k * 15 + 15)]) == Array(bits(whole)[(r * 15)..<(r * 15 + 15)]))
        }
        let u = Tensor(randomUniform: [7], seed: 2, stream: 1, step: 4)
        #expect(bits(Tensor(randomUniform: [7], rows: [6, 0], seed: 2, stream: 1, step: 4)) == [bits(u)[6], bits(u)[0]])
    }

    @Test func shardNoiseMapsAreRowsOfTheBatchsMaps() {
        let g = Generator(config: .tiny, seed: 1)
        let whole = g.synthesis.noiseMaps(.random(seed: 99), batch: 8, layers: 4)
        let shard = g.synthesis.noiseMaps(seed: 99, samples: Shard(rank: 1, size: 2).samples(of: 8), of: 8, layers: 4)
        for (w, s) in zip(whole, shard) {
            let rows = w!.shape.dropFirst().reduce(1, *)
            for (k, n) in [1, 3, 5, 7].enumerated() {
                #expect(Array(bits(s!)[(k * rows)..<((k + 1) * rows)]) == Array(bits(w!)[(n * rows)..<((n + 1) * rows)]))
            }
        }
    }

    @Test func shardsPartitionTheBatchAndKeepItsStddevGroups() {
        #expect(Shard(rank: 0, size: 2).samples(of: 8) == [0, 2, 4, 6])
        #expect(Shard(rank: 3, size: 4).samples(of: 16) == [3, 7, 11, 15])
        #expect(Shard.whole.samples(of: 5) == [0, 1, 2, 3, 4])
        // Global batch 8 in groups of 4 over 1 and 2 ranks (4 ranks' shards of 2 are refused below).
        let x = Tensor(randomNormal: [8, 3, 2, 2], seed: 5)
        let whole = minibatchStdDev(x, groupSize: 4)
        let plane = 2 * 2, sample = 4 * plane
        for size in [1, 2] {
            for rank in 0..<size {
                let rows = Shard(rank: rank, size: size).samples(of: 8)
                let local = minibatchStdDev(Tensor(randomNormal: [8, 3, 2, 2], rows: rows, seed: 5), groupSize: 4)
                for (k, n) in rows.enumerated() {
                    let got = Array(local.scalars[(k * sample + 3 * plane)..<((k + 1) * sample)])
                    let want = Array(whole.scalars[(n * sample + 3 * plane)..<((n + 1) * sample)])
                    #expect(zip(got, want).allSatisfy { abs($0 - $1) <= 1e-6 * max(1, abs($1)) }, "rank \(rank) of \(size), sample \(n)")
                }
            }
        }
        expectError(.training) { try Trainer.checkShards(batch: 8, resolution: 4, ranks: 3, groupSize: 4) }
        expectError(.training) { try Trainer.checkShards(batch: 8, resolution: 4, ranks: 4, groupSize: 4) }
        #expect(throws: Never.self) { try Trainer.checkShards(batch: 8, resolution: 4, ranks: 2, groupSize: 4) }
    }

    @Test func gradientAverageOfTheSingleProcessGroupChangesNothing() throws {
        let world = try Collective.world()  // no launcher here: the group of one
        #expect(world.size == 1 && world.rank == 0)
        let params: NamedParameters = (0..<4).map { i in
            let p = Tensor(zeros: [i + 1, 3])
            p.grad = Tensor(randomNormal: [i + 1, 3], seed: UInt64(i))
            return ("p\(i)", p)
        }
        params[1].1.grad = nil  // a parameter without a gradient is skipped
        params[2].1.grad!.data[0] = -0.0
        let before = params.map { $0.1.grad.map(bits) }
        let averager = GradientAverager(world)
        averager.reduce(params)
        #expect(params.map { $0.1.grad.map(bits) } == before)
        // The buffer layout: gradients back to back, scattered with the 1 / ranks scale.
        let grads = params.compactMap { $0.1.grad }
        #expect(averager.flatten(grads) == 1 * 3 + 3 * 3 + 4 * 3)
        averager.scatter(grads, scale: 0.5)
        #expect(grads[0].scalars == before[0]!.map { Float(bitPattern: $0) * 0.5 })
        #expect(world.mean([3, -1]) == [3, -1] && world.any(true) && !world.any(false))
    }

    @Test func oneRankStepIsTheSingleProcessStepBitForBit() throws {
        func twoSteps(_ collective: Collective, reduce: Bool) -> [[UInt32]] {
            var c = Config.tiny
            c.batchSize = 8
            let networks = GradMode.withoutGrad { GAN(config: c, seed: 3) }
            let step = TrainingStep(networks: networks, loss: .logistic(r1: 10, r1Every: 1), seed: 3, collective: collective)
            step.averager.reduceAlone = reduce
            for i in 0..<2 {
                let reals = Tensor(randomNormal: [8, 3, 8, 8], rows: Shard.whole.samples(of: 8), seed: 40 + UInt64(i))
                #expect(step.run(reals: reals, resolution: 8, alpha: 0.5, lr: 0.001, iteration: i, nimg: 8 * i) != nil)
            }
            return networks.namedTensors.map { bits($0.1) }
        }
        #expect(twoSteps(.single, reduce: false) == twoSteps(try Collective.world(), reduce: true))
    }

    @Test(.enabled(if: !Collective.available)) func buildWithoutMPIRefusesToRunAsOneOfSeveralRanks() throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: styleganBinary)
        p.arguments = ["train", "--data", "/nonexistent", "--outdir", "/nonexistent", "--kimg", "1"]
        p.environment = ProcessInfo.processInfo.environment.merging(["OMPI_COMM_WORLD_SIZE": "2"]) { $1 }
        let err = Pipe()
        p.standardError = err
        p.standardOutput = FileHandle.nullDevice
        try p.run()
        let text = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        #expect(p.terminationStatus != 0)
        #expect(text.contains("built without MPI"), "stderr: \(text)")
    }
}
