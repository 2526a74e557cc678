// Opt-in (STYLEGAN_TEST_MPI=1, with a build made by STYLEGAN_MPI=1 and Open MPI's mpirun on the
// PATH): `mpirun -np 2 stylegan train --batch 8` against `-np 1` on the tiny preset. Every rank
// must hold bit-identical state after every iteration, and the two runs the same weights within
// the tolerance below; a run resumed on another number of ranks goes on from the same state.
//
// Tolerance: the allreduce sums the two shards' gradients in another order than one process sums
// the whole batch, so gradients differ in their last bits. Almost every weight then agrees to
// 1e-5, but a gradient that is zero up to rounding (the biases just before instance norm) has a
// sign that Adam (beta1 0) turns into a full step of up to lr * sqrt((1 - b2^t) / (1 - b2)) either
// way: such weights may differ by twice the sum of those steps.
import Foundation
import Testing
@testable import StyleGAN
@testable import Training

private let mpiTestsEnabled = ProcessInfo.processInfo.environment["STYLEGAN_TEST_MPI"] == "1"

@Suite("MPI training (opt-in: STYLEGAN_TEST_MPI=1)", .serialized, .enabled(if: mpiTestsEnabled))
struct MPITrainingTests {
    func mpirun(ranks: Int, _ args: [String]) throws -> (status: Int32, stderr: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["mpirun", "--oversubscribe", "--bind-to", "none", "-x", "OMP_NUM_THREADS", "-np", String(ranks), styleganBinary,
                       "train", "--config", "tiny", "--batch", "8", "--phase-kimg", "0.1", "--quiet", "--debug-rank-checksums"] + args
        p.environment = ProcessInfo.processInfo.environment.merging([
            "OMP_NUM_THREADS": "1", "OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1",
        ]) { $1 }
        let err = Pipe()
        p.standardError = err
        p.standardOutput = FileHandle.nullDevice
        try p.run()
        let text = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        waitOrKill(p, seconds: 300)
        return (p.terminationStatus, text)
    }

    /// Each rank's "iteration nimg checksum" lines.
    func checksums(_ run: String, rank: Int) throws -> [String] {
        try String(contentsOfFile: run + "/rank-checksums-\(rank).txt", encoding: .utf8).split(separator: "\n").map(String.init)
    }

    /// Weights (not optimiser moments) of two checkpoints: (largest difference, fraction above 1e-5).
    func weightDifference(_ a: String, _ b: String) throws -> (max: Float, fractionOver: Double) {
        let (x, y) = (try Checkpoint.load(from: a), try Checkpoint.load(from: b))
        var (worst, over, count): (Float, Int, Int) = (0, 0, 0)
        for ((name, s), (_, t)) in zip(x.namedTensors, y.namedTensors) where !name.hasPrefix("state.") {
            for i in 0..<s.count {
                let d = abs(s.data[i] - t.data[i])
                worst = max(worst, d)
                if d > 1e-5 { over += 1 }
            }
            count += s.count
        }
        return (worst, Double(over) / Double(count))
    }

    /// The bound on a weight's difference after `steps` Adam steps of lr (see the file's comment).
    func adamBound(steps: Int, lr: Float = 0.001, beta2: Float = 0.99) -> Float {
        2 * (1...steps).reduce(0) { $0 + lr * ((1 - pow(beta2, Float($1))) / (1 - beta2)).squareRoot() } + 1e-5
    }

    @Test func twoRanksOfFourMatchOneRankOfEight() throws {
        #expect(Collective.available, "the tests were built without MPI: STYLEGAN_MPI=1 swift test ...")
        let data = try makeDataset(count: 16, name: "mpi")
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("stylegan-mpi-\(getpid())").path
        let (one, two, resumed) = (base + "/np1", base + "/np2", base + "/np2-then-np1")
        // 3 iterations of the global batch 8 at 4x4.
        let r1 = try mpirun(ranks: 1, ["--data", data, "--outdir", one, "--kimg", "0.024"])
        #expect(r1.status == 0, "np 1: \(r1.stderr)")
        let r2 = try mpirun(ranks: 2, ["--data", data, "--outdir", two, "--kimg", "0.024"])
        #expect(r2.status == 0, "np 2: \(r2.stderr)")

        let ranks = (try checksums(two, rank: 0), try checksums(two, rank: 1))
        #expect(ranks.0.count == 3 && ranks.0 == ranks.1, "ranks differ: \(ranks)")
        #expect(!FileManager.default.fileExists(atPath: two + "/rank-checksums-2.txt"))

        let d = try weightDifference(one + "/checkpoint-000024.safetensors", two + "/checkpoint-000024.safetensors")
        print("np 1 vs np 2 after 3 steps: max |dw| \(d.max) (bound \(adamBound(steps: 3))), \(d.fractionOver * 100)% over 1e-5")
        #expect(d.max <= adamBound(steps: 3), "largest weight difference \(d.max)")
        #expect(d.fractionOver < 1e-3, "\(d.fractionOver * 100)% of the weights differ by more than 1e-5")
        let (s1, s2) = (try readStats(one + "/stats.jsonl").last!, try readStats(two + "/stats.jsonl").last!)
        #expect(s1["kimg"] as? Double == 0.024 && s2["kimg"] as? Double == 0.024)

        // Two more iterations on the other number of ranks, from the 2-rank checkpoint.
        try FileManager.default.createDirectory(atPath: resumed, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: two + "/checkpoint-000024.safetensors", toPath: resumed + "/checkpoint-000024.safetensors")
        let r3 = try mpirun(ranks: 1, ["--data", data, "--outdir", resumed, "--kimg", "0.04", "--resume", "latest"])
        #expect(r3.status == 0, "resume on 1 rank: \(r3.stderr)")
        let r4 = try mpirun(ranks: 2, ["--data", data, "--outdir", one, "--kimg", "0.04", "--resume", "latest"])
        #expect(r4.status == 0, "resume on 2 ranks: \(r4.stderr)")
        let e = try weightDifference(one + "/checkpoint-000040.safetensors", resumed + "/checkpoint-000040.safetensors")
        print("np 1 -> 2 vs np 2 -> 1 after 5 steps: max |dw| \(e.max) (bound \(adamBound(steps: 5))), \(e.fractionOver * 100)% over 1e-5")
        #expect(e.max <= adamBound(steps: 5), "largest weight difference after resuming \(e.max)")
        #expect(e.fractionOver < 1e-3, "\(e.fractionOver * 100)% of the weights differ by more than 1e-5 after resuming")
    }

    @Test func ranksRollBackTogetherAfterANonFiniteStep() throws {
        let data = try makeDataset(count: 16, name: "mpi-nan")
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("stylegan-mpi-nan-\(getpid())").path
        let (one, two) = (base + "/np1", base + "/np2")
        // A checkpoint every 2 iterations; iteration 3 fails and rolls back to the one at 16 images.
        let args = ["--kimg", "0.048", "--snap-kimg", "0.016", "--debug-fail-at", "3"]
        let r1 = try mpirun(ranks: 1, ["--data", data, "--outdir", one] + args)
        #expect(r1.status == 0, "np 1: \(r1.stderr)")
        let r2 = try mpirun(ranks: 2, ["--data", data, "--outdir", two] + args)
        #expect(r2.status == 0, "np 2: \(r2.stderr)")
        let ranks = (try checksums(two, rank: 0), try checksums(two, rank: 1))
        #expect(ranks.0.count == 6 && ranks.0 == ranks.1, "ranks differ: \(ranks)")
        let events = try readStats(two + "/stats.jsonl").filter { $0["event"] as? String == "nonfinite" }
        #expect(events.count == 1 && events[0]["iteration"] as? Int == 3)
        let d = try weightDifference(one + "/checkpoint-000048.safetensors", two + "/checkpoint-000048.safetensors")
        print("roll-back, np 1 vs np 2: max |dw| \(d.max) (bound \(adamBound(steps: 5))), \(d.fractionOver * 100)% over 1e-5")
        #expect(d.max <= adamBound(steps: 5), "largest weight difference \(d.max)")
        #expect(d.fractionOver < 1e-3, "\(d.fractionOver * 100)% of the weights differ by more than 1e-5")
    }

    @Test func batchThatDoesNotSplitIsAClearError() throws {
        let data = try makeDataset(count: 16, name: "mpi-split")
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("stylegan-mpi-split-\(getpid())").path
        let r = try mpirun(ranks: 3, ["--data", data, "--outdir", out, "--kimg", "0.024"])
        #expect(r.status != 0)
        #expect(r.stderr.contains("does not split evenly over 3 processes"), "stderr: \(r.stderr)")
    }
}
