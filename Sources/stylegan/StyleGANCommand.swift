// The `stylegan` command line: one file per subcommand, parsing and calling only.
import ArgumentParser

@main
struct StyleGANCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stylegan",
        abstract: "A style-based GAN (StyleGAN) that trains and generates on the CPU.",
        subcommands: [Prepare.self, Train.self, Init.self, Info.self, Generate.self, Mix.self, Interpolate.self, Bench.self, Metrics.self, Export.self, Import.self, DirectionsCommand.self, Edit.self, Project.self])
}
