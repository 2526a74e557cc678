// Generation by seed through the Swift API and the `stylegan` command: determinism, truncation,
// noise modes, and clear errors for bad input.
import Foundation
import Testing
import TestSupport
@testable import Inference
@testable import StyleGAN

/// An untrained checkpoint (seed 7) at `resolution`, written to this test process's folder as `name`.
func writeUntrainedCheckpoint(_ name: String, config: Config, resolution: Int, edit: (Checkpoint) -> Void = { _ in }) -> String {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("stylegan-inference-\(getpid())")
    try! FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    let path = dir.appendingPathComponent(name).path
    var ckpt = GradMode.withoutGrad { Checkpoint(config: config, seed: 7) }
    ckpt.resolution = resolution
    GradMode.withoutGrad { edit(ckpt) }
    try! ckpt.save(to: path)
    return path
}

/// A tiny untrained checkpoint at 16 px, written once per test process.
let tinyCheckpointPath = writeUntrainedCheckpoint("tiny.safetensors", config: .tiny, resolution: 16) { ckpt in
    // An untrained net has w_avg = 0; give it a real one so truncation has something to pull toward.
    ckpt.ema.wAvg.assign(Tensor(randomNormal: [Config.tiny.wDim], seed: 1) * 0.3)
}

@Suite("Generate")
struct GenerateTests {
    @Test func seedLists() throws {
        #expect(try parseSeeds("0-3,12") == [0, 1, 2, 3, 12])
        #expect(try parseSeeds("7") == [7])
        for bad in ["5-2", "abc", "", "1,,2", "-3", "1-2-3", "4-x"] {
            expectError(.inference, "'\(bad)' should be rejected") { try parseSeeds(bad) }
        }
    }

    @Test func sameSeedSameImage() throws {
        let s = try Synthesizer.load(tinyCheckpointPath)
        let a = try s.generate(seed: 3), b = try s.generate(seed: 3), c = try s.generate(seed: 4)
        #expect(a.pixels == b.pixels)
        #expect(a.pixels != c.pixels)
        #expect(a.width == 16 && a.height == 16 && a.channels == 3)
    }

    @Test func zeroPsiWithConstNoiseGivesTheAverageImageForEverySeed() throws {
        let s = try Synthesizer.load(tinyCheckpointPath)
        let t = try Truncation(psi: 0)
        let images = try (0..<4).map { try s.generate(seed: $0, truncation: t, noise: .const).pixels }
        #expect(Set(images).count == 1)
        let untruncated = try (0..<2).map { try s.generate(seed: $0, noise: .const).pixels }
        #expect(untruncated[0] != untruncated[1])
    }

    @Test func truncationCutoffLeavesLaterLayersAlone() throws {
        let s = try Synthesizer.load(tinyCheckpointPath)
        let full = try s.styles(seed: 1, truncation: nil)
        let cut = try s.styles(seed: 1, truncation: try Truncation(psi: 0.5, cutoff: 2))
        let layers = s.layerCount
        #expect(cut.narrow(axis: 1, start: 2, length: layers - 2).scalars == full.narrow(axis: 1, start: 2, length: layers - 2).scalars)
        #expect(cut.narrow(axis: 1, start: 0, length: 2).scalars != full.narrow(axis: 1, start: 0, length: 2).scalars)
        expectError(.inference) { try s.styles(seed: 1, truncation: try Truncation(psi: 0.5, cutoff: layers + 1)) }
        expectError(.inference) { try Truncation(psi: 2.5) }
    }

    /// Seeds made as one batch (metrics, snapshots) are the images `generate` makes of each seed.
    @Test func aBatchOfSeedsIsEachSeedsImage() throws {
        let s = try Synthesizer.load(tinyCheckpointPath)
        GradMode.withoutGrad { for l in s.generator.synthesis.layers { l.noiseStrength.fill(0.5) } }
        let batch = s.imageTensor(seeds: [3, 8, 5])
        for (i, seed) in [3, 8, 5].enumerated() {
            let one = try s.imageTensor(seed: seed, noise: .random)
            let row = batch.narrow(axis: 0, start: i, length: 1)
            let diff = zip(one.scalars, row.scalars).map { abs($0 - $1) }.max()!
            #expect(diff < 1e-4, "seed \(seed): batch and single differ by \(diff) (rounding of batched convolutions only)")
        }
    }

    @Test func noiseModesDiffer() throws {
        let s = try Synthesizer.load(tinyCheckpointPath)
        // Untrained noise strengths are 0; give them a value so the noise shows.
        GradMode.withoutGrad { for l in s.generator.synthesis.layers { l.noiseStrength.fill(0.5) } }
        let r = try s.generate(seed: 1, noise: .random), c = try s.generate(seed: 1, noise: .const), n = try s.generate(seed: 1, noise: .none)
        #expect(r.pixels != c.pixels && c.pixels != n.pixels && r.pixels != n.pixels)
    }
}

/// The built `stylegan` executable, next to the test bundle.
let styleganBinary = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("stylegan").path

/// Runs `stylegan` with arguments; returns (exit status, stdout + stderr).
func runCLI(_ args: [String], environment: [String: String] = [:]) throws -> (Int32, String) {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: styleganBinary)
    p.arguments = args
    var env = ProcessInfo.processInfo.environment
    for (k, v) in environment { env[k] = v }
    p.environment = env
    let pipe = Pipe()
    p.standardOutput = pipe
    p.standardError = pipe
    try p.run()
    let out = pipe.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return (p.terminationStatus, String(decoding: out, as: UTF8.self))
}

@Suite("stylegan generate (command line)")
struct GenerateCLITests {
    func tempDir(_ name: String) -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("stylegan-cli-\(getpid())-\(name)").path
    }

    @Test func writesOnePNGPerSeedAndAGrid() throws {
        let out = tempDir("ok")
        let (status, text) = try runCLI(["generate", "--network", tinyCheckpointPath, "--seeds", "0-2,9", "--outdir", out, "--grid", "--trunc", "0.7"])
        #expect(status == 0, "\(text)")
        let files = try FileManager.default.contentsOfDirectory(atPath: out).sorted()
        #expect(files == ["grid.png", "seed0000.png", "seed0001.png", "seed0002.png", "seed0009.png"])
    }

    @Test func sameBytesOnOneAndTwoThreads() throws {
        var bytes: [Data] = []
        for threads in ["1", "2"] {
            let out = tempDir("threads\(threads)")
            let (status, text) = try runCLI(["generate", "--network", tinyCheckpointPath, "--seeds", "5", "--outdir", out],
                                            environment: ["OMP_NUM_THREADS": threads])
            #expect(status == 0, "\(text)")
            bytes.append(try Data(contentsOf: URL(fileURLWithPath: out + "/seed0005.png")))
        }
        #expect(bytes[0] == bytes[1])
    }

    @Test("bad input gives a one-line error and a non-zero exit", arguments: [
        ["--network", "/nonexistent.safetensors", "--seeds", "1"],
        ["--seeds", "5-2"],
        ["--seeds", "abc"],
        ["--seeds", "1", "--trunc", "3"],
        ["--seeds", "1", "--trunc", "0.7", "--trunc-cutoff", "99"],
        ["--seeds", "1", "--noise", "loud"],
        ["--seeds", "1", "--outdir", "/proc/stylegan-cannot-write-here"],
    ])
    func badInput(_ args: [String]) throws {
        var full = ["generate"] + args
        if !args.contains("--network") { full += ["--network", tinyCheckpointPath] }
        if !args.contains("--outdir") { full += ["--outdir", tempDir("bad")] }
        let (status, text) = try runCLI(full)
        print("  \(args.joined(separator: " ")): \(text.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: "\n").first ?? "")")
        #expect(status != 0)
        #expect(text.contains("Error"), "\(text)")
    }

    @Test func corruptNetworkFile() throws {
        let path = tempDir("corrupt.safetensors")
        try Data("this is not a checkpoint at all".utf8).write(to: URL(fileURLWithPath: path))
        let (status, text) = try runCLI(["generate", "--network", path, "--seeds", "1", "--outdir", tempDir("corrupt")])
        #expect(status != 0 && text.contains(path), "\(text)")
    }
}
