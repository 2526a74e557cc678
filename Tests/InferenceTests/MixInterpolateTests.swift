// Style mixing and interpolation: the identities that pin their meaning down.
import Foundation
import Testing
import TestSupport
@testable import Inference
@testable import StyleGAN

@Suite("Mix and interpolate")
struct MixInterpolateTests {
    @Test func layerGroups() throws {
        // 64 px network: 10 layers (4,4,8,8,16,16,32,32,64,64).
        #expect(try StyleLayers.coarse.layers(layerCount: 10) == [0, 1, 2, 3])
        #expect(try StyleLayers.middle.layers(layerCount: 10) == [4, 5, 6, 7])
        #expect(try StyleLayers.fine.layers(layerCount: 10) == [8, 9])
        #expect(try StyleLayers(parsing: "0-2").layers(layerCount: 10) == [0, 1, 2])
        expectError(.inference) { try StyleLayers(parsing: "0-12").layers(layerCount: 10) }
        expectError(.inference) { try StyleLayers(parsing: "big") }
    }

    @Test func mixingNoLayersIsTheRowImageAndAllLayersTheColumnImage() throws {
        let s = try Synthesizer.load(tinyCheckpointPath)
        let none = try styleMixingFigure(s, rows: [1], columns: [2], styles: .list([]))
        let all = try styleMixingFigure(s, rows: [1], columns: [2], styles: .list(Array(0..<s.layerCount)))
        let row = try s.generate(seed: 1, noise: .const), col = try s.generate(seed: 2, noise: .const)
        #expect(none.cells[0].image.pixels == row.pixels)
        #expect(all.cells[0].image.pixels == col.pixels)
        let coarse = try styleMixingFigure(s, rows: [1, 3], columns: [2, 4, 5], styles: .coarse)
        #expect(coarse.cells.count == 6)
        #expect(coarse.grid.width == 4 * s.resolution && coarse.grid.height == 3 * s.resolution)
        #expect(coarse.cells[0].image.pixels != row.pixels && coarse.cells[0].image.pixels != col.pixels)
    }

    @Test("first and last frames are the endpoint seeds' images", arguments: [LatentSpace.w, .z])
    func endpoints(_ space: LatentSpace) throws {
        let s = try Synthesizer.load(tinyCheckpointPath)
        let frames = try interpolationFrames(s, seeds: [3, 8, 5], framesPerSegment: 4, space: space, loop: false, noise: .const)
        #expect(frames.count == 9)
        #expect(frames.first!.pixels == (try s.generate(seed: 3, noise: .const)).pixels)
        #expect(frames[4].pixels == (try s.generate(seed: 8, noise: .const)).pixels)
        #expect(frames.last!.pixels == (try s.generate(seed: 5, noise: .const)).pixels)
        let looped = try interpolationFrames(s, seeds: [3, 8, 5], framesPerSegment: 4, space: space, loop: true, noise: .const)
        #expect(looped.count == 12)
    }

    @Test func commandWritesNumberedFrames() throws {
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("stylegan-interp-\(getpid())").path
        let (status, text) = try runCLI(["interpolate", "--network", tinyCheckpointPath, "--seeds", "1,2", "--frames", "3", "--outdir", out])
        #expect(status == 0, "\(text)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: out).sorted() == ["frame00000.png", "frame00001.png", "frame00002.png", "frame00003.png"])
        let (bad, msg) = try runCLI(["interpolate", "--network", tinyCheckpointPath, "--seeds", "1", "--outdir", out])
        #expect(bad != 0 && msg.contains("at least two seeds"), "\(msg)")
        let mixOut = out + "-mix"
        let (mixStatus, mixText) = try runCLI(["mix", "--network", tinyCheckpointPath, "--rows", "1,2", "--cols", "3", "--styles", "fine", "--outdir", mixOut])
        // A 16 px network has no fine (64 px+) layers: a clear error.
        #expect(mixStatus != 0 && mixText.contains("selects no layers"), "\(mixText)")
        let (okStatus, okText) = try runCLI(["mix", "--network", tinyCheckpointPath, "--rows", "1,2", "--cols", "3", "--outdir", mixOut])
        #expect(okStatus == 0, "\(okText)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: mixOut).sorted() == ["grid.png", "mix-row0001-col0003.png", "mix-row0002-col0003.png"])
    }

    /// A w file (as `project` writes) takes part where seeds do: a seed's own w written to a file
    /// gives the seed's rows and key frames.
    @Test func projectedStylesActAsTheirSeed() throws {
        let s = try Synthesizer.load(tinyCheckpointPath)
        let ws = try s.styles(seed: 4, truncation: nil)
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("w-\(getpid()).npy").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try NumPy.write(ws.reshaped([s.layerCount, s.generator.config.wDim]), to: path)
        let fromFile = LatentKey.styles(try s.styles(wFile: path), name: "w")
        let bySeed = try styleMixingFigure(s, rows: [LatentKey.seed(4)], columns: [.seed(2)], styles: .coarse, noise: .const)
        let byFile = try styleMixingFigure(s, rows: [fromFile], columns: [.seed(2)], styles: .coarse, noise: .const)
        #expect(bySeed.cells[0].image.pixels == byFile.cells[0].image.pixels && byFile.cells[0].row == "w")
        let framesSeed = try interpolationFrames(s, keys: [.seed(4), .seed(6)], framesPerSegment: 3, space: .w, loop: false, noise: .const)
        let framesFile = try interpolationFrames(s, keys: [fromFile, .seed(6)], framesPerSegment: 3, space: .w, loop: false, noise: .const)
        #expect(zip(framesSeed, framesFile).allSatisfy { $0.pixels == $1.pixels })
        expectError(.inference) { try interpolationFrames(s, keys: [fromFile, .seed(6)], framesPerSegment: 3, space: .z, loop: false) }
    }
}
