// Pooling and bilinear resizing against PyTorch's functions (Tests/reference/make_window_fixtures.py).
import Foundation
import Testing
@testable import StyleGAN

@Suite("Window ops")
struct WindowOpsTests {
    static func npy(_ name: String) throws -> Tensor {
        try NumPy.read(fixturesDirectory.appendingPathComponent("ops/window-\(name).npy").path)
    }

    @Test func matchPyTorch() throws {
        let x = try Self.npy("input")
        let cases: [(String, Tensor)] = [
            ("maxpool", x.maxPooled(3, stride: 2)),
            ("avgpool", x.avgPooled(3, stride: 1, padding: 1)),
            ("resize-up", x.resizedBilinear(height: 41, width: 30)),
            ("resize-down", x.resizedBilinear(height: 7, width: 5)),
        ]
        for (name, got) in cases {
            let want = try Self.npy(name)
            #expect(got.shape == want.shape, "\(name)")
            // Values around 100: float32 rounding of a few products.
            expectClose(got, want, rtol: 1e-6, atol: 1e-4, name)
        }
    }
}
