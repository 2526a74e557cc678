// Shared helpers for the StyleGAN tests: fixture loading and tolerance checks that print the
// largest difference, as llm.c's test_gpt2 does.
import Foundation
import Testing
@testable import StyleGAN

/// Tests/Fixtures, found from this file's path so no bundle resources are needed.
let fixturesDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .deletingLastPathComponent().appendingPathComponent("Fixtures")

func loadFixture(_ name: String) throws -> SafetensorsFile {
    try SafetensorsFile.read(fixturesDirectory.appendingPathComponent("ops/\(name).safetensors").path)
}

/// The largest |got - want| and the worst ratio of it to (atol + rtol |want|).
func compare(_ got: Tensor, _ want: Tensor, rtol: Float, atol: Float) -> (maxDiff: Float, worst: Float) {
    var maxDiff: Float = 0, worst: Float = 0
    for i in 0..<want.count {
        let d = abs(got.data[i] - want.data[i])
        if d.isNaN { return (.nan, .infinity) }
        maxDiff = max(maxDiff, d)
        worst = max(worst, d / (atol + rtol * abs(want.data[i])))
    }
    return (maxDiff, worst)
}

/// Expects `got` to match `want` within atol + rtol |want| everywhere, printing the largest difference.
func expectClose(_ got: Tensor, _ want: Tensor, rtol: Float, atol: Float, _ label: String,
                 sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(got.shape == want.shape, "\(label): shape \(got.shape) vs \(want.shape)", sourceLocation: sourceLocation)
    guard got.shape == want.shape else { return }
    let (maxDiff, worst) = compare(got, want, rtol: rtol, atol: atol)
    print(String(format: "  %-28@ max |diff| %.3e  (%.2f of tolerance)", label as NSString, maxDiff, worst))
    #expect(worst <= 1, "\(label): max |diff| \(maxDiff) exceeds atol \(atol) + rtol \(rtol)", sourceLocation: sourceLocation)
}

/// A deterministic random tensor (Philox), optionally kept away from zero (for log, sqrt, kinks).
func randomTensor(_ shape: [Int], seed: UInt64, positive: Bool = false, requiresGrad: Bool = true) -> Tensor {
    let t = Tensor(randomNormal: shape, seed: seed)
    if positive { for i in 0..<t.count { t.data[i] = abs(t.data[i]) + 0.5 } }
    t.requiresGrad = requiresGrad
    return t
}
