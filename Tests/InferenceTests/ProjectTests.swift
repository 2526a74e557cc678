// `stylegan project`: a generated image (a known w from a seed of the shipped weights) is recovered
// in W and W+; the same seed gives the same latent on 1 and 2 threads; bad images and w files
// get one clear line.
import Foundation
import Testing
@testable import Inference
@testable import StyleGAN

@Suite("Projection", .serialized)
struct ProjectTests {
    static let dir: String = {
        let d = FileManager.default.temporaryDirectory.appendingPathComponent("stylegan-project-\(getpid())").path
        try! FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        return d
    }()
    static let weights = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("weights/faces64.safetensors").path

    static func target() throws -> String {
        let path = dir + "/target.png"
        if !FileManager.default.fileExists(atPath: path) {
            let synth = try Synthesizer.load(weights)
            try synth.generate(seed: 5, noise: .const).writePNG(path)
        }
        return path
    }

    static func psnr(_ text: String) -> Double? {
        guard let r = text.range(of: #"PSNR [0-9.]+"#, options: .regularExpression) else { return nil }
        return Double(text[r].dropFirst(5))
    }

    /// 150 steps (the default is 1000): at least 25 dB already, in both spaces.
    @Test(arguments: ["w", "w+"])
    func recoversAGeneratedImage(space: String) throws {
        let out = Self.dir + "/out-\(space)"
        let (rc, text) = try runCLI(["project", "--network", Self.weights, "--target", try Self.target(), "--outdir", out,
                                     "--steps", "150", "--space", space, "--quiet"])
        #expect(rc == 0, "\(text)")
        let db = Self.psnr(text) ?? 0
        print("projection \(space), 150 steps: \(db) dB")
        #expect(db >= 25, "\(text)")
        let w = try NumPy.read(out + "/projected_w.npy")
        #expect(w.shape == (space == "w" ? [1, 256] : [10, 256]))
        // The projected w generates through --w what proj.png shows.
        let (rc2, text2) = try runCLI(["generate", "--network", Self.weights, "--w", out + "/projected_w.npy", "--noise", "none", "--outdir", out])
        #expect(rc2 == 0 && FileManager.default.fileExists(atPath: out + "/w.png"), "\(text2)")
    }

    /// The same seed gives the same latent, bit for bit, on 1 and on 2 threads (the kernels cut
    /// their work by shape, never by thread count).
    @Test func sameSeedSameResult() throws {
        var files: [Data] = []
        for threads in ["1", "2"] {
            let out = Self.dir + "/threads\(threads)"
            let (rc, text) = try runCLI(["project", "--network", Self.weights, "--target", try Self.target(), "--outdir", out,
                                         "--steps", "8", "--seed", "3", "--quiet"], environment: ["OMP_NUM_THREADS": threads])
            #expect(rc == 0, "\(text)")
            files.append(try Data(contentsOf: URL(fileURLWithPath: out + "/projected_w.npy")))
        }
        #expect(files[0] == files[1])
    }

    /// `--video`: one frame per step, the target beside that step's image; encoded with ffmpeg
    /// where it is installed, the frames kept where it is not (never a failed projection).
    @Test func videoOfTheOptimisation() throws {
        let out = Self.dir + "/video"
        let (rc, text) = try runCLI(["project", "--network", Self.weights, "--target", try Self.target(), "--outdir", out,
                                     "--steps", "3", "--video", "--quiet"])
        #expect(rc == 0, "\(text)")
        if FileManager.default.fileExists(atPath: out + "/video.mp4") {
            #expect(!FileManager.default.fileExists(atPath: out + "/video-frames"))
        } else {
            #expect(text.contains("ffmpeg") && text.contains("video-frames"), "\(text)")
            let frames = try FileManager.default.contentsOfDirectory(atPath: out + "/video-frames").sorted()
            #expect(frames == ["frame00000.png", "frame00001.png", "frame00002.png"])
            let frame = try Image.read(out + "/video-frames/frame00002.png"), target = try Image.read(out + "/target.png")
            #expect(frame.width == 2 * target.width && frame.height == target.height)
            // The left half is the target.
            for y in 0..<target.height {
                #expect(Array(frame.pixels[(y * frame.width * 3)..<(y * frame.width * 3 + target.width * 3)])
                        == Array(target.pixels[(y * target.width * 3)..<((y + 1) * target.width * 3)]))
            }
        }
    }

    @Test func badInputsAreRefused() throws {
        let grey = Self.dir + "/grey.png", rgba = Self.dir + "/rgba.png", tiny = Self.dir + "/tiny.png"
        try Image(width: 64, height: 64, channels: 1, pixels: [UInt8](repeating: 100, count: 64 * 64)).writePNG(grey)
        try Image(width: 64, height: 64, channels: 4, pixels: [UInt8](repeating: 100, count: 64 * 64 * 4)).writePNG(rgba)
        try Image(width: 8, height: 8, channels: 3, pixels: [UInt8](repeating: 100, count: 8 * 8 * 3)).writePNG(tiny)
        for (target, words) in [("/nonexistent.png", "nonexistent"), (grey, "grey"), (rgba, "RGBA"), (tiny, "too small")] {
            let (rc, text) = try runCLI(["project", "--network", Self.weights, "--target", target, "--outdir", Self.dir + "/bad", "--steps", "1"])
            #expect(rc != 0 && text.contains(words) && text.split(separator: "\n").count <= 2, "\(target): \(text)")
        }
        let wrong = Self.dir + "/wrong.npy"
        try NumPy.write(Tensor(zeros: [3, 17]), to: wrong)
        let (rc, text) = try runCLI(["generate", "--network", Self.weights, "--w", wrong, "--outdir", Self.dir + "/bad"])
        #expect(rc != 0 && text.contains("[1, 256] or [10, 256]"), "\(text)")
    }
}
