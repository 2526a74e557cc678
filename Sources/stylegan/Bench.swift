// `stylegan bench kernels|generate [...] [--json]`: the project's benchmark.
import ArgumentParser
import Foundation
import Inference
import CKernels
import StyleGAN
import Training

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Time the kernels (GFLOP/s of conv2d against sgemm of the same size, GB/s of the rest).")

    enum Target: String, ExpressibleByArgument, CaseIterable { case kernels, generate, train, inception, project }

    @Argument(help: "What to time: \(Target.allCases.map(\.rawValue).joined(separator: ", ")).") var target: Target
    @Option(help: "Timed repetitions per row (the median is reported).") var iters: Int = 5
    @Option(help: "Thread counts to compare, comma separated (default: 1 and all cores).") var threads: String?
    @Option(help: "Batch size (kernels: of the conv rows; generate: images per forward pass).") var batch: Int = 8
    @Option(help: "Fade-in alpha (train).") var alpha: Float = 1
    @Option(help: "Config preset (generate, train).") var config = "paper256"
    @Option(help: "Resolution (generate, train; default: the config's).") var resolution: Int?
    @Flag(help: "StyleGAN2's weight demodulation in place of AdaIN (generate, project, train).") var demod = false
    @Option(help: "Augmentation (train): none or ada (ADA's pipeline at --p on every image D sees).") var aug = "none"
    @Option(help: "Augmentation probability for --aug ada (train).") var p: Float = 0.5
    @Flag(help: "Print only JSON lines, one object per row.") var json = false

    func validate() throws {
        guard iters >= 1 else { throw ValidationError("--iters must be at least 1") }
        guard batch >= 1 else { throw ValidationError("--batch must be at least 1") }
        _ = try threadCounts()
        guard ["none", "ada", "fixed"].contains(aug) else { throw ValidationError("--aug '\(aug)': expected none or ada") }
        guard (0...1).contains(p) else { throw ValidationError("--p must be between 0 and 1") }
    }

    func threadCounts() throws -> [Int] {
        guard let threads else {
            let cores = ProcessInfo.processInfo.activeProcessorCount
            return cores > 1 ? [1, cores] : [1]
        }
        let parsed = threads.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !parsed.isEmpty, parsed.allSatisfy({ ($0 ?? 0) >= 1 }) else {
            throw ValidationError("--threads takes positive integers separated by commas, got '\(threads)'")
        }
        return parsed.map { $0! }
    }

    func run() throws {
        if !json { print("BLAS kernels: OpenBLAS \(String(cString: ck_blas_core()))") }
        switch target {
        case .kernels:
            let rows = KernelBench.convRows(batch: batch, threads: try threadCounts(), iters: iters)
                + KernelBench.elementwiseRows(iters: iters)
            printRows(rows, json: json)
        case .inception:
            printRows([InceptionBench.run(batch: batch, iters: iters)], json: json)
        case .generate, .project, .train:
            var cfg = try Config.preset(named: config)
            if demod { (cfg.demodulate, cfg.name) = (true, cfg.name + "+demod") }
            let r = resolution ?? cfg.resolution
            guard cfg.resolutions.contains(r) else { throw ValidationError("--resolution \(r) is not one of \(cfg.resolutions)") }
            if target == .generate {
                printRows([GenerateBench.run(config: cfg, resolution: r, batch: batch, iters: iters)], json: json)
            } else if target == .project {
                printRows([ProjectBench.run(config: cfg, resolution: r, iters: iters)], json: json)
            } else {
                guard (0...1).contains(alpha) else { throw ValidationError("--alpha must be in [0, 1]") }
                // Under mpirun (an MPI build) the ranks time one data-parallel step together.
                let world = try Collective.world()
                let row = try world.run { try TrainBench.run(config: cfg, resolution: r, alpha: alpha, batch: batch, iters: iters,
                                                               augmentP: aug == "none" ? nil : p, collective: world) }
                if world.isRoot { printRows([row], json: json) }
            }
        }
    }
}

/// A table for people, or one JSON object per line for machines.
func printRows(_ rows: [BenchRow], json: Bool) {
    if json {
        for r in rows { print(r.json) }
        return
    }
    let text = { (value: Any) in (value as? Double).map { String(format: "%.3g", $0) } ?? "\(value)" }
    // Columns as wide as their widest entry, per group of rows with the same name.
    var start = 0
    while start < rows.count {
        let end = rows[start...].firstIndex { $0.name != rows[start].name } ?? rows.count
        let group = rows[start..<end], header = group.first!.fields.map { $0.0 }
        let widths = header.indices.map { i in max(header[i].count, group.map { text($0.fields[i].1).count }.max()!) }
        let printLine = { (cells: [String]) in
            print(zip(cells, widths).map { $0.padding(toLength: $1, withPad: " ", startingAt: 0) }.joined(separator: "  "))
        }
        print("\n\(rows[start].name)")
        printLine(header)
        for r in group { printLine(r.fields.map { text($0.1) }) }
        start = end
    }
}
