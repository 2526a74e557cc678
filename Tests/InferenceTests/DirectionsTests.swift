// SeFa directions of the shipped weights against NumPy's eigh on the same weights
// (Tests/reference/make_sefa_fixture.py), and edits along them.
import Foundation
import Testing
import TestSupport
@testable import Inference
@testable import StyleGAN

private let shippedWeightsPath = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().appendingPathComponent("weights/faces64.safetensors").path

@Suite("Edit directions")
struct DirectionsTests {
    static func fixture(_ name: String) throws -> Tensor {
        try NumPy.read(importFixtures.deletingLastPathComponent().appendingPathComponent("ops/\(name)").path)
    }

    @Test(arguments: [("all", nil), ("0-3", [0, 1, 2, 3])] as [(String, [Int]?)])
    func sefaMatchesNumPy(_ name: String, _ layers: [Int]?) throws {
        let g = try GeneratorWeights.load(from: shippedWeightsPath).generator
        let dirs = try Directions.sefa(g, layers: layers)
        let values = try Self.fixture("sefa-faces64-\(name)-eigenvalues.npy"), vectors = try Self.fixture("sefa-faces64-\(name)-vectors.npy")
        let d = g.config.wDim
        #expect(dirs.eigenvalues.count == d && zip(dirs.eigenvalues, dirs.eigenvalues.dropFirst()).allSatisfy { $0 >= $1 })
        for i in 0..<d { #expect(abs(dirs.eigenvalues[i] - values.data[i]) <= 1e-4 * max(1, values.data[0]), "eigenvalue \(i)") }
        for k in 0..<vectors.shape[0] {
            let mine = dirs.direction(k).scalars, ref = Array(vectors.scalars[(k * d)..<((k + 1) * d)])
            let dot = zip(mine, ref).reduce(Float(0)) { $0 + $1.0 * $1.1 }
            #expect(abs(abs(dot) - 1) <= 1e-4, "direction \(k): |dot| \(abs(dot))")  // equal up to sign
            let norm = mine.reduce(Float(0)) { $0 + $1 * $1 }
            #expect(abs(norm - 1) <= 1e-5)
        }
        // Orthonormal among themselves.
        let a = dirs.direction(0).scalars, b = dirs.direction(1).scalars
        #expect(abs(zip(a, b).reduce(Float(0)) { $0 + $1.0 * $1.1 }) <= 1e-5)
    }

    @Test func editsMoveOnlyTheChosenLayers() throws {
        let ws = Tensor(randomNormal: [1, 4, 8], seed: 1), dir = Tensor(randomNormal: [1, 8], seed: 2)
        let e = edited(ws, direction: dir, strength: 2, layers: [1, 3])
        for l in 0..<4 {
            for j in 0..<8 {
                let want = ws.data[l * 8 + j] + (l == 1 || l == 3 ? 2 * dir.data[j] : 0)
                #expect(abs(e.data[l * 8 + j] - want) <= 1e-6)
            }
        }
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("dir-\(getpid()).npy").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try NumPy.write(Tensor(randomNormal: [3, 7], seed: 3), to: path)
        expectError(.inference) { try loadDirection(path, wDim: 8) }  // wrong size
        expectError(.inference) { try loadDirection(path, index: 5, wDim: 7) }  // no such row
        #expect(try loadDirection(path, index: 2, wDim: 7).shape == [1, 7])
    }

    /// `edit --frames N`: N frames per seed from strength -s to s, the first and last the row's
    /// ends; `--video` needs `--frames`.
    @Test func editFramesSweepTheStrength() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("stylegan-edit-frames-\(getpid())").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var (rc, text) = try runCLI(["directions", "--network", shippedWeightsPath, "--outdir", dir])
        #expect(rc == 0, "\(text)")
        let common = ["edit", "--network", shippedWeightsPath, "--seeds", "1,2", "--direction", dir + "/sefa.npy", "--outdir", dir + "/e"]
        (rc, text) = try runCLI(common + ["--frames", "4"])
        #expect(rc == 0, "\(text)")
        let read = { (name: String) in try Data(contentsOf: URL(fileURLWithPath: dir + "/e/" + name)) }
        let frames = try FileManager.default.contentsOfDirectory(atPath: dir + "/e").filter { $0.hasPrefix("frame") }.sorted()
        #expect(frames == (0..<8).map { String(format: "frame%05d.png", $0) })
        #expect(try read("frame00000.png") == read("edit-0001-00.png") && read("frame00003.png") == read("edit-0001-06.png"))
        #expect(try read("frame00004.png") == read("edit-0002-00.png") && read("frame00007.png") == read("edit-0002-06.png"))
        #expect(try read("frame00001.png") != read("frame00002.png"))
        (rc, text) = try runCLI(common + ["--video"])
        #expect(rc != 0 && text.contains("--video needs --frames"), "\(text)")
        (rc, text) = try runCLI(common + ["--frames", "1"])
        #expect(rc != 0 && text.contains("between 2 and 10000"), "\(text)")
    }

    /// Labelled latents: latents whose label is the side of a hidden unit vector v give back a
    /// direction close to v; labels come from a CSV with a header and an index column.
    @Test func directionFromLabelsFindsTheHiddenAxis() throws {
        let (n, d) = (400, 16)
        let w = Tensor(randomNormal: [n, d], seed: 11)
        var v = Tensor(randomNormal: [d], seed: 12).scalars
        let norm = v.reduce(0) { $0 + $1 * $1 }.squareRoot()
        v = v.map { $0 / norm }
        let labels = (0..<n).map { i in (0..<d).reduce(Float(0)) { $0 + w.data[i * d + $1] * v[$1] } > 0 ? "1" : "0" }
        let csv = FileManager.default.temporaryDirectory.appendingPathComponent("labels-\(getpid()).csv").path
        defer { try? FileManager.default.removeItem(atPath: csv) }
        try (["seed,smile"] + labels.enumerated().map { "\($0.offset),\($0.element)" }).joined(separator: "\n").write(toFile: csv, atomically: true, encoding: .utf8)
        let dir = try Directions.fromLabels(latents: w, labels: try Directions.readLabels(csv))
        let cosine = zip(dir.scalars, v).reduce(Float(0)) { $0 + $1.0 * $1.1 }
        #expect(cosine > 0.9, "cosine \(cosine)")
        expectError(.inference) { try Directions.fromLabels(latents: w, labels: [Float](repeating: 1, count: n)) }
        expectError(.inference) { try Directions.fromLabels(latents: w, labels: [1, 0]) }
    }
}
